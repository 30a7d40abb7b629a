// One Key Vault secret. Returns the versionless URI, so an app setting that references it follows rotations.

@description('Name of an existing vault in this resource group.')
param keyVaultName string

@description('Secret name (letters, digits and dashes).')
param name string

@secure()
param value string

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' existing = {
  name: keyVaultName
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = {
  parent: vault
  name: name
  properties: {
    value: value
  }
}

output uri string = secret.properties.secretUri
