// Tenant Auth Status on Azure: `azd up` provisions this and deploys the app to it.
// Subscription scope, so azd can create the resource group for the environment.
targetScope = 'subscription'

@description('azd environment name: names the resource group and tags every resource.')
@minLength(1)
@maxLength(64)
param environmentName string

@description('Azure region for every resource; it must offer Flex Consumption.')
@minLength(1)
param location string

@description('Key Vault public network access. Enabled by default because the Flex Consumption app here has no virtual network; the vault still answers only Entra ID tokens with RBAC roles.')
@allowed([
  'Enabled'
  'Disabled'
])
param keyVaultPublicNetworkAccess string = 'Enabled'

@description('Most instances the function app scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory of each function app instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('ENTRA_AUTHORITY_HOST app setting.')
param entraAuthorityHost string = 'https://login.microsoftonline.com'

@description('GRAPH_ENDPOINT app setting.')
param graphEndpoint string = 'https://graph.microsoft.com'

@description('VERIFY_SCHEDULE app setting: NCRONTAB of the verification timer (every 6 hours by default).')
param verifySchedule string = '0 0 */6 * * *'

@description('VERIFY_CONCURRENCY app setting: verifications in flight per worker.')
@minValue(1)
@maxValue(256)
param verifyConcurrency int = 16

@description('REQUIRED_APPLICATION_ROLES app setting: roles the application method token must carry.')
param requiredApplicationRoles string = 'User.Read.All'

@description('CONSENT_SCOPES app setting: delegated scopes asked at consent.')
param consentScopes string = 'https://graph.microsoft.com/.default'

@description('PROVIDER_TENANT_ID app setting: the provider\'s own tenant (a GUID or its domain), where its app registration lives; foresight reads the provider\'s client secret and the delegated admin relationships there. Empty: those reads are off, and the views say why the expiries are unknown.')
@maxLength(253)
param providerTenantId string = ''

@description('GDAP_CHECK app setting: read the provider\'s delegated admin relationships for expiry warnings (needs providerTenantId).')
@allowed([
  'true'
  'false'
])
param gdapCheck string = 'false'

@description('Email addresses that get an alert when a Microsoft 365 connection is lost, separated by commas; empty: the alert rule fires in the portal only.')
param alertEmails string = ''

@description('Application (client) id of the operators\' app registration (README: Operators\' sign-in); empty: sign-in is off and function keys alone open the API.')
@maxLength(36)
param operatorsClientId string = ''

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var serviceName = 'api'
// azd passes a parameter as text, so the list arrives comma-separated.
var alertEmailList = filter(split(replace(alertEmails, ' ', ''), ','), email => !empty(email))
var functionAppName = '${abbrs.webSitesFunctions}${resourceToken}'

// Names the app code uses (design: queue `verify-requests`, one table per concern). The host moves a message
// that failed maxDequeueCount times to `verify-requests-poison`, which the app reads too (functions/verification.py).
var queueNames = [
  'verify-requests'
  'verify-requests-poison'
]
var tableNames = [
  'Tenants'  // the customers, their status counts, histories and outbox
  'Settings'
  'VerificationRuns'
  'ConsentStates'
  'AuditLog'
]

resource rg 'Microsoft.Resources/resourceGroups@2021-04-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: 'app-package-${resourceToken}'
    queueNames: queueNames
    tableNames: tableNames
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    publicNetworkAccess: keyVaultPublicNetworkAccess
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

// Deployed after the role assignments, so the host's first start can already reach storage.
module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  dependsOn: [
    rbac
  ]
  params: {
    planName: '${abbrs.webServerFarms}${resourceToken}'
    name: functionAppName
    location: location
    tags: tags
    serviceName: serviceName
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    keyVaultUri: keyVault.outputs.uri
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    entraAuthorityHost: entraAuthorityHost
    graphEndpoint: graphEndpoint
    verifySchedule: verifySchedule
    verifyConcurrency: verifyConcurrency
    requiredApplicationRoles: requiredApplicationRoles
    consentScopes: consentScopes
    providerTenantId: providerTenantId
    gdapCheck: gdapCheck
    operatorsClientId: operatorsClientId
    operatorsTenantId: tenant().tenantId
  }
}

// Operators' sign-in with Microsoft Entra; deploys nothing while operatorsClientId is empty.
module signIn 'modules/signin.bicep' = {
  name: 'signin'
  scope: rg
  params: {
    appName: functionApp.outputs.name
    operatorsClientId: operatorsClientId
    operatorsTenantId: tenant().tenantId
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    actionGroupName: '${abbrs.insightsActionGroups}${resourceToken}'
    alertRuleName: 'M365 connection lost - ${environmentName}'
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    alertEmails: alertEmailList
    location: location
    tags: tags
  }
}

// azd writes these to .azure/<env>/.env; read them with `azd env get-value NAME`.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output REDIRECT_URL string = 'https://${functionApp.outputs.defaultHostName}/authenticate/OAuth2Callback'
output KEY_VAULT_URI string = keyVault.outputs.uri
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
// The subject of the operators' registration's federated credential (README: Operators' sign-in).
output AZURE_APP_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
