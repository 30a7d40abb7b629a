// Parameters for main.bicep. No secret lives here: each secure value is read from an environment variable at
// deploy time (export them first, e.g. from your password manager), or overridden inline with `-p name=value`.
// An unset variable becomes '' and fails main.bicep's @minLength check before anything is deployed.
using 'main.bicep'

param prefix = 'cdpprod'
param hostingPlan = 'FlexConsumption'
param dotnetVersion = '10.0'

param postgresAdminLogin = 'cdpadmin'
param postgresAdminPassword = readEnvironmentVariable('CDP_POSTGRES_ADMIN_PASSWORD', '')
param postgresSkuName = 'Standard_B2s'
param postgresSkuTier = 'Burstable'

param redisSkuName = 'Balanced_B1'

param eventHubsSkuName = 'Standard'
param eventHubsCapacity = 1
param eventHubPartitionCount = 4
param eventHubRetentionHours = 72
param consumerGroupName = 'cdp-functions'

param clickhouseVmSize = 'Standard_D2s_v5'
param clickhouseDataDiskSizeGB = 128
param clickhouseAdminSshPublicKey = readEnvironmentVariable('CDP_SSH_PUBLIC_KEY', '')
param clickhousePassword = readEnvironmentVariable('CDP_CLICKHOUSE_PASSWORD', '')

param crmSigningSecret = readEnvironmentVariable('CDP_CRM_SIGNING_SECRET', '')
param wechatSigningSecret = readEnvironmentVariable('CDP_WECHAT_SIGNING_SECRET', '')
param erpSigningSecret = readEnvironmentVariable('CDP_ERP_SIGNING_SECRET', '')
param callsSigningSecret = readEnvironmentVariable('CDP_CALLS_SIGNING_SECRET', '')

param wecomCorpId = readEnvironmentVariable('CDP_WECOM_CORP_ID', '')
param wecomToken = readEnvironmentVariable('CDP_WECOM_TOKEN', '')
param wecomEncodingAesKey = readEnvironmentVariable('CDP_WECOM_ENCODING_AES_KEY', '')
param wecomSecret = readEnvironmentVariable('CDP_WECOM_SECRET', '')
param wecomAlertWebhookUrl = readEnvironmentVariable('CDP_WECOM_ALERT_WEBHOOK_URL', '')
param wecomAgentId = readEnvironmentVariable('CDP_WECOM_AGENT_ID', '')

param authSessionKey = readEnvironmentVariable('CDP_AUTH_SESSION_KEY', '')
param loggingPiiHashKey = readEnvironmentVariable('CDP_LOGGING_PII_HASH_KEY', '')

// Optional: leave unset to keep every city on the legacy privacy-number adapter.
param virtualNumbersProviderBaseUrl = readEnvironmentVariable('CDP_VIRTUAL_NUMBERS_PROVIDER_BASE_URL', '')
param virtualNumbersAccessKeyId = readEnvironmentVariable('CDP_VIRTUAL_NUMBERS_ACCESS_KEY_ID', '')
param virtualNumbersAccessKeySecret = readEnvironmentVariable('CDP_VIRTUAL_NUMBERS_ACCESS_KEY_SECRET', '')
param virtualNumbersLegacyBaseUrl = readEnvironmentVariable('CDP_VIRTUAL_NUMBERS_LEGACY_BASE_URL', '')
param virtualNumbersGreyCities = readEnvironmentVariable('CDP_VIRTUAL_NUMBERS_GREY_CITIES', '')
