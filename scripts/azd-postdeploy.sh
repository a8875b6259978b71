#!/bin/sh
# azd postdeploy hook (azure.yaml). Event Grid refuses an event subscription to a function that
# does not exist yet, so infra/main.bicep creates them only with eventSubscriptionsEnabled=true.
# After the first deploy has published onResourceWrite, turn that on and provision again; later
# deploys find it on and do nothing here.
set -eu
if [ "${EVENT_SUBSCRIPTIONS_ENABLED:-false}" != "true" ]; then
  echo "Code is published: creating the Event Grid subscriptions to onResourceWrite (azd provision)."
  azd env set EVENT_SUBSCRIPTIONS_ENABLED true
  azd provision --no-prompt
fi
