// ClickHouse (behaviour events) on an Ubuntu VM: Azure has no managed ClickHouse, and Azure Files (SMB) cannot back
// it because merges need hard links, so the data lives on a Premium SSD managed disk mounted at /var/lib/clickhouse.
//
// No public IP: the VM is reached on its private address from the Function App's VNet integration subnet (NSG in
// network.bicep), and administered with `az vm run-command invoke` (or Azure Bastion, not deployed here).

@description('Azure region.')
param location string

@description('VM name.')
param name string

@description('Subnet for the NIC (its NSG is attached at the subnet).')
param subnetId string

@description('Fixed private address inside the subnet, so the connection string never changes.')
param privateIpAddress string

@description('VM size; ClickHouse wants RAM more than cores. D2s_v5 (2 vCPU, 8 GiB) presents data disks as SCSI LUNs, which cloud-init addresses.')
param vmSize string = 'Standard_D2s_v5'

@description('Premium SSD data disk size in GiB (128 = P10).')
param dataDiskSizeGB int = 128

@description('Linux admin user (SSH key only; password login is disabled).')
param adminUsername string = 'azureuser'

@description('Public half of an SSH key for the admin user. Not a secret, but there is no inbound SSH path by default.')
param adminSshPublicKey string

@description('ClickHouse user the app signs in as.')
param clickhouseUser string = 'cdp'

@secure()
@description('Password of that ClickHouse user.')
param clickhousePassword string

@description('ClickHouse database the app creates its table in.')
param clickhouseDatabase string = 'cdp'

@description('Vault that receives the connection string.')
param keyVaultName string

param tags object = {}

var cloudInit = replace(
  replace(loadTextContent('clickhouse-cloud-init.yaml'), '__PASSWORD_B64__', base64(clickhousePassword)),
  '__USER__',
  clickhouseUser
)

resource nic 'Microsoft.Network/networkInterfaces@2024-05-01' = {
  name: '${name}-nic'
  location: location
  tags: tags
  properties: {
    ipConfigurations: [
      {
        name: 'ipconfig1'
        properties: {
          subnet: { id: subnetId }
          privateIPAllocationMethod: 'Static'
          privateIPAddress: privateIpAddress
        }
      }
    ]
  }
}

resource vm 'Microsoft.Compute/virtualMachines@2024-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    hardwareProfile: { vmSize: vmSize }
    securityProfile: {
      securityType: 'TrustedLaunch'
      uefiSettings: {
        secureBootEnabled: true
        vTpmEnabled: true
      }
    }
    osProfile: {
      computerName: name
      adminUsername: adminUsername
      customData: base64(cloudInit)
      linuxConfiguration: {
        disablePasswordAuthentication: true
        ssh: {
          publicKeys: [
            {
              path: '/home/${adminUsername}/.ssh/authorized_keys'
              keyData: adminSshPublicKey
            }
          ]
        }
      }
    }
    storageProfile: {
      imageReference: {
        publisher: 'Canonical'
        offer: 'ubuntu-24_04-lts'
        sku: 'server'
        version: 'latest'
      }
      osDisk: {
        createOption: 'FromImage'
        deleteOption: 'Delete'
        managedDisk: { storageAccountType: 'Premium_LRS' }
      }
      dataDisks: [
        {
          lun: 0
          name: '${name}-data'
          createOption: 'Empty'
          diskSizeGB: dataDiskSizeGB
          caching: 'ReadOnly'
          // Deleting the VM keeps the events: the disk is detached, not deleted.
          deleteOption: 'Detach'
          managedDisk: { storageAccountType: 'Premium_LRS' }
        }
      ]
    }
    networkProfile: {
      networkInterfaces: [
        {
          id: nic.id
          properties: { deleteOption: 'Delete' }
        }
      ]
    }
    // Managed boot diagnostics: the serial log shows cloud-init's progress without any way into the VM.
    diagnosticsProfile: {
      bootDiagnostics: { enabled: true }
    }
  }
}

module connectionSecret 'key-vault-secret.bicep' = {
  name: 'secret-clickhouse-connection-string'
  params: {
    keyVaultName: keyVaultName
    name: 'clickhouse-connection-string'
    // Plain HTTP inside the VNet; credentials in the URL's user-info, the database as its path (ClickHouseHttp
    // reads the path as the database name).
    value: 'http://${clickhouseUser}:${uriComponent(clickhousePassword)}@${privateIpAddress}:8123/${clickhouseDatabase}'
  }
}

output privateIpAddress string = privateIpAddress
output connectionSecretUri string = connectionSecret.outputs.uri
output vmId string = vm.id
