#!/bin/sh
# After the code is deployed: create the Event Grid subscriptions, which need the functions to exist (Event Grid
# checks an AzureFunction endpoint when the subscription is created). It provisions the same template with the same
# parameters file, with DEPLOY_EVENT_SUBSCRIPTIONS=true, which is then kept so later provisions keep them.
# azd runs it as the postdeploy hook; by hand: sh infra/hooks/postdeploy.sh env (with the provision's values exported).
set -eu
cd "$(dirname "$0")/../.."
. infra/hooks/lib.sh

need AZURE_RESOURCE_GROUP 'the resource group Champion is deployed to.'
need AZURE_FUNCTION_APP_NAME 'the Function App (an output of the provision).'

# Flex Consumption indexes the functions shortly after the package is published.
tries=0
until az functionapp function list -g "$AZURE_RESOURCE_GROUP" -n "$AZURE_FUNCTION_APP_NAME" --query '[].name' -o tsv |
  grep -q 'onDriftDetected'; do
  tries=$((tries + 1))
  [ "$tries" -lt 30 ] || fail "the functions of $AZURE_FUNCTION_APP_NAME did not appear within 5 minutes."
  sleep 10
done

keep DEPLOY_EVENT_SUBSCRIPTIONS true
az deployment group create -g "$AZURE_RESOURCE_GROUP" -n "champion-$AZURE_ENV_NAME-events" \
  --parameters infra/main.bicepparam --query properties.provisioningState -o tsv >&2
say "postdeploy: event subscriptions are in place."
