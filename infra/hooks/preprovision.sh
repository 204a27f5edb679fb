#!/bin/sh
# Before every provision: compile and lint the templates, check the required values, and create what the template
# cannot: the approval signing key (once) and the Entra ID app registration approvers sign in with (once).
# azd runs it as the preprovision hook; by hand: eval "$(sh infra/hooks/preprovision.sh env)".
set -eu
cd "$(dirname "$0")/../.."
. infra/hooks/lib.sh

# 1. The compiler first: nothing is provisioned from a template that does not build or lint clean.
az bicep build --file infra/main.bicep --stdout >/dev/null
az bicep lint --file infra/main.bicep >&2

# 2. What every provision needs. The workspace is never in the resource group Champion is deployed to, because
#    `azd down` deletes that resource group.
need AZURE_ENV_NAME 'azd env new <name>, or export it.'
need AZURE_RESOURCE_GROUP 'azd env set AZURE_RESOURCE_GROUP <resource group for Champion>'
need AZUREML_WORKSPACE_NAME 'azd env set AZUREML_WORKSPACE_NAME <workspace>'
need AZUREML_WORKSPACE_RESOURCE_GROUP 'azd env set AZUREML_WORKSPACE_RESOURCE_GROUP <its resource group>'
need CHAMPION_POLICIES 'azd env set CHAMPION_POLICIES "$(cat policies.json)"'
[ "$(printf %s "$AZURE_RESOURCE_GROUP" | tr 'A-Z' 'a-z')" != "$(printf %s "$AZUREML_WORKSPACE_RESOURCE_GROUP" | tr 'A-Z' 'a-z')" ] ||
  fail "AZURE_RESOURCE_GROUP is the workspace's resource group; Champion needs its own (azd down deletes it)."
printf %s "$CHAMPION_POLICIES" | node -e 'JSON.parse(require("fs").readFileSync(0, "utf8"))' ||
  fail 'CHAMPION_POLICIES is not JSON (give the text of the policies file).'

# 3. The commit being deployed, recorded in promotion evidence and on deployments.
keep CHAMPION_GIT_SHA "$(git rev-parse HEAD)"
keep CHAMPION_GIT_REPOSITORY "$(git remote get-url origin 2>/dev/null || echo '')"

# 4. The approval signing key: generated once, never printed under azd; the template writes it to Key Vault.
if [ -z "${CHAMPION_APPROVAL_SECRET:-}" ]; then
  keep CHAMPION_APPROVAL_SECRET "$(node -p 'require("crypto").randomBytes(48).toString("base64")')"
fi

# 5. The app's name, fixed before the first provision so the sign-in redirect address is known.
if [ -z "${AZURE_FUNCTION_APP_NAME:-}" ]; then
  keep AZURE_FUNCTION_APP_NAME "func-champion-$(node -p 'require("crypto").randomBytes(6).toString("hex")')"
fi

# 6. The Entra ID app registration for App Service authentication (sign-in with ID tokens: no client secret).
if [ -z "${CHAMPION_AUTH_CLIENT_ID:-}" ]; then
  display="champion-$AZURE_ENV_NAME"
  id="$(az ad app list --display-name "$display" --query '[0].appId' -o tsv)"
  if [ -z "$id" ]; then
    id="$(az ad app create --display-name "$display" --sign-in-audience AzureADMyOrg \
      --web-redirect-uris "https://$AZURE_FUNCTION_APP_NAME.azurewebsites.net/.auth/login/aad/callback" \
      --enable-id-token-issuance true --query appId -o tsv)"
    keep CHAMPION_AUTH_APP_CREATED true
  fi
  keep CHAMPION_AUTH_CLIENT_ID "$id"
fi
# 7. A workspace has at most one Event Grid system topic: reuse one that exists and is not this environment's own.
if [ -z "${AZUREML_SYSTEM_TOPIC_NAME:-}" ]; then
  existing="$(az eventgrid system-topic list -g "$AZUREML_WORKSPACE_RESOURCE_GROUP" --query "[?topicType=='Microsoft.MachineLearningServices.Workspaces' && ends_with(source, '/$AZUREML_WORKSPACE_NAME') && tags.\"azd-env-name\" != '$AZURE_ENV_NAME'].name | [0]" -o tsv)"
  if [ -n "$existing" ]; then
    keep AZUREML_SYSTEM_TOPIC_NAME "$existing"
  fi
fi
say "preprovision: templates build and lint clean; values for $AZURE_ENV_NAME are set."
