// Email on lost connections through Azure Monitor: a log search alert rule over Application Insights that
// counts the `connectionLost` lines the app logs (shared/domain/event_log.py), and an action group that
// mails the given addresses. No addresses: no action group, and the rule fires into the portal only.
//
// Every 5 minutes the rule reads the last 15 minutes, but counts only the lines ingested in the last
// 5 minutes: a line is counted by exactly one evaluation even when it arrives up to 10 minutes late, and
// one evaluation gives one alert, with the number of lost connections and up to five customer ids.
// The rule has no managed identity: its query reads only the Application Insights component in its scope,
// with the permissions of whoever deployed or last edited it.

@description('Name of the action group (created only when alertEmails is not empty).')
param actionGroupName string

@description('Name of the log search alert rule.')
param alertRuleName string

@description('Name of the Application Insights component the app logs to.')
param applicationInsightsName string

@description('Email addresses that receive lost-connection alerts; empty: no action group.')
param alertEmails array

@description('Azure region of the alert rule.')
param location string

@description('Tags for the resources.')
param tags object

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmails)) {
  name: actionGroupName
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'm365alerts'
    enabled: true
    emailReceivers: [for (email, i) in alertEmails: {
      name: 'email-${i}'
      emailAddress: email
      useCommonAlertSchema: true
    }]
  }
}

resource connectionLostRule 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: alertRuleName
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Microsoft 365 connections lost'
    description: 'Customers whose Microsoft 365 connection failed (connectionLost). The Authentication Status page shows why each one failed and what to do.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          // Reads the line of shared/domain/event_log.py: the prefix, then one JSON object. itemCount undoes
          // the host's adaptive sampling; a line logged twice (same eventId) counts once.
          query: '''
let prefix = "STATUS_EVENT ";
traces
| where coalesce(ingestion_time(), timestamp) > ago(5m)
| where message startswith_cs prefix
| extend payload = parse_json(substring(message, strlen(prefix)))
| where tostring(payload.type) == "connectionLost"
| summarize weight = max(itemCount), customerId = take_any(tostring(payload.customerId)) by eventId = tostring(payload.eventId)
| summarize lostConnections = sum(weight), customerIds = strcat_array(array_sort_asc(make_set(customerId, 5)), ", ")
| where lostConnections > 0
'''
          timeAggregation: 'Total'
          metricMeasureColumn: 'lostConnections'
          dimensions: [
            {
              name: 'customerIds'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: empty(alertEmails) ? [] : [
        actionGroup.id
      ]
    }
  }
}
