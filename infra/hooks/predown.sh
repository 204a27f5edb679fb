#!/bin/sh
# Before `azd down` deletes Champion's resource group: remove what the deployment created outside it, in the
# workspace's resource group, and nothing else. The workspace itself is never touched.
set -eu
cd "$(dirname "$0")/../.."
. infra/hooks/lib.sh

need AZUREML_WORKSPACE_RESOURCE_GROUP 'the workspace resource group.'
ws_rg="$AZUREML_WORKSPACE_RESOURCE_GROUP"
topic="${AZURE_EVENTGRID_SYSTEM_TOPIC:-}"

if [ -n "$topic" ]; then
  for sub in champion-model-registered champion-drift champion-run-completed champion-dataset-drift; do
    az eventgrid system-topic event-subscription delete -g "$ws_rg" --system-topic-name "$topic" -n "$sub" --yes \
      2>/dev/null || true
  done
  if [ "${AZURE_EVENTGRID_SYSTEM_TOPIC_CREATED:-false}" = true ]; then
    az eventgrid system-topic delete -g "$ws_rg" -n "$topic" --yes
  fi
fi

if [ -n "${AZURE_WORKSPACE_ROLE_ASSIGNMENT_ID:-}" ]; then
  az role assignment delete --ids "$AZURE_WORKSPACE_ROLE_ASSIGNMENT_ID"
fi
if [ -n "${AZURE_PRINCIPAL_ID:-}" ] && [ -n "${AZUREML_WORKSPACE_STORAGE_ACCOUNT:-}" ]; then
  az role assignment delete --assignee "$AZURE_PRINCIPAL_ID" --role 'Storage Blob Data Contributor' \
    --scope "$(az storage account show -g "$ws_rg" -n "$AZUREML_WORKSPACE_STORAGE_ACCOUNT" --query id -o tsv)"
fi
# The custom role is shared by every environment next to this workspace: removed with the last one using it.
role="${AZURE_WORKSPACE_ROLE_DEFINITION_ID:-}"
if [ -n "$role" ] && [ "${CHAMPION_WORKSPACE_ROLE:-ChampionCustom}" = ChampionCustom ]; then
  if [ -z "$(az role assignment list --role "${role##*/}" --all --query '[].id' -o tsv)" ]; then
    az role definition delete --name "${role##*/}" --custom-role-only true
  fi
fi
if [ "${CHAMPION_AUTH_APP_CREATED:-false}" = true ] && [ -n "${CHAMPION_AUTH_CLIENT_ID:-}" ]; then
  az ad app delete --id "$CHAMPION_AUTH_CLIENT_ID"
fi
say "predown: removed Champion's subscriptions, roles and sign-in registration; the workspace is untouched."
