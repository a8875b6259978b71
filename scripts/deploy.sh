#!/usr/bin/env bash
# Deploys aadlogin-enforcer with the Azure CLI alone (the alternative to `azd up`), in the three
# steps Event Grid needs: infra without event subscriptions, the code, then the event subscriptions.
#
#   scripts/deploy.sh <environment-name> <location> [more --parameters for infra/main.bicep...]
#   e.g. scripts/deploy.sh prod westeurope 'watchedSubscriptionIds=["<sub-id-1>","<sub-id-2>"]' \
#          'allowedPrincipals=["<object-id>"]' enforcerMode=report
#
# Needs: az (logged in, `az account set` to the home subscription), Node 20+ with `npm install`
# done, and zip. Run from anywhere; paths are relative to the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 2 ]; then
  sed -n '2,10p' "$0"
  exit 2
fi
env_name="$1"
location="$2"
shift 2
deployment="aadlogin-enforcer-${env_name}"

# Compile with the project's pinned Bicep (the version the tests checked) when it is installed;
# otherwise let az compile the .bicep itself.
template="infra/main.bicep"
bicep="$(node -e 'import("./scripts/tools.mjs").then(m => console.log(m.bicepPath() ?? ""))')"
if [ -n "$bicep" ]; then
  mkdir -p dist/infra
  "$bicep" build infra/main.bicep --outfile dist/infra/main.json
  template="dist/infra/main.json"
fi

provision() {
  az deployment sub create \
    --name "$deployment" \
    --location "$location" \
    --template-file "$template" \
    --parameters environmentName="$env_name" location="$location" "$@" \
    --query properties.outputs --output json
}

echo "1/3 infrastructure (without event subscriptions)"
outputs="$(provision "$@" eventSubscriptionsEnabled=false)"
app="$(printf '%s' "$outputs" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).AZURE_FUNCTION_APP_NAME.value))')"
group="$(printf '%s' "$outputs" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).AZURE_RESOURCE_GROUP.value))')"

echo "2/3 code: bundle and publish to $app"
npm run bundle
rm -f dist/enforcer.zip
(cd dist/deploy && zip -qr ../enforcer.zip .)
az functionapp deployment source config-zip --resource-group "$group" --name "$app" --src dist/enforcer.zip

echo "3/3 event subscriptions to onResourceWrite"
provision "$@" eventSubscriptionsEnabled=true >/dev/null
echo "Deployed $app in $group. Mode: see ENFORCER_MODE in its app settings (report unless you passed enforcerMode=enforce)."
