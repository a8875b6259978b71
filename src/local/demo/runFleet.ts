import { assignmentDescription, assignmentName } from "../../domain/assignmentName.js";
import type { VmRecord } from "../../store/tableStore.js";
import type { LocalStack } from "../stack.js";
import type { Fleet, FleetVm } from "./fleet.js";

/**
 * Creates a fleet the way its owner would: resource groups, then each VM with an ARM PUT using the
 * owner's token, then whatever the owner installs or grants by hand. The resulting Event Grid
 * events drive the enforcer.
 */
export async function createFleet(stack: LocalStack, fleet: Fleet, log: (line: string) => void): Promise<void> {
  const owner = stack.userFor(fleet.owner.id);
  for (const group of fleet.resourceGroups) await owner.putResourceGroup(group.subscriptionId, group.name, group.location);
  // Event Grid delivers seconds after a write: hold events while each owner finishes setting up
  // their VM (extensions, existing grants), then let them drive the enforcement.
  stack.emulator.setEventDelivery({ paused: true });
  try {
    let next = 0;
    const worker = async () => {
      while (next < fleet.vms.length) {
        const vm = fleet.vms[next++] as FleetVm;
        if (vm.simulation) stack.emulator.setVmSimulation({ id: vm.id, ...vm.simulation } as Parameters<typeof stack.emulator.setVmSimulation>[0]);
        await owner.putVm(vm.id, vm.body);
        for (const ext of vm.extensions ?? []) {
          const { publisher, type, typeHandlerVersion, ...rest } = ext.body as Record<string, unknown>;
          try {
            await owner.putExtension(vm.id, ext.name, { publisher, type, typeHandlerVersion, ...rest }, String(vm.body["location"]));
          } catch (error) {
            log(`  (owner's own install of ${ext.name} on ${vm.id.split("/").pop()} failed, as it does in Azure: ${(error as Error).message.slice(0, 160)})`);
          }
        }
        for (const a of vm.assignments ?? []) {
          const ours = a.name === "__ours__";
          const sub = vm.id.split("/")[2] ?? "";
          await owner.putRoleAssignment(vm.id, ours ? assignmentName(vm.id, a.roleGuid, a.principalId) : a.name, {
            roleDefinitionId: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${a.roleGuid}`,
            principalId: a.principalId,
            principalType: a.principalType,
            // An earlier grant of the enforcer's carries its name and marker.
            description: ours ? assignmentDescription("aadlogin-admins") : (a.description ?? "granted by hand"),
          });
        }
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
  } finally {
    stack.emulator.setEventDelivery({ paused: false });
  }
}

/** Waits until every fleet VM has a record and no event or queued request is left; reports progress. */
export async function waitForConvergence(stack: LocalStack, fleet: Fleet, timeoutMs: number, show: (done: number, total: number, detail: string) => void = () => {}): Promise<{ records: Map<string, VmRecord>; converged: boolean }> {
  const deadline = Date.now() + timeoutMs;
  const ids = new Set(fleet.vms.map((v) => v.id.toLowerCase()));
  let records = new Map<string, VmRecord>();
  while (Date.now() < deadline) {
    // Idle first, then read: a record written after the read would otherwise be missed.
    const idle = await Promise.race([stack.emulator.deliveriesIdle().then(() => true), sleep(250).then(() => false)]);
    const all = await stack.services.store.listVms();
    records = new Map(all.filter((r) => ids.has(r.vmId.toLowerCase())).map((r) => [r.vmId.toLowerCase(), r]));
    const counts: Record<string, number> = {};
    for (const r of records.values()) counts[r.state] = (counts[r.state] ?? 0) + 1;
    show(records.size, ids.size, Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(", "));
    if (idle && records.size === ids.size) {
      await stack.host?.drainQueues({ timeoutInMs: Math.max(1000, deadline - Date.now()) });
      return { records, converged: true };
    }
    if (idle) await sleep(250);
  }
  return { records, converged: false };
}


function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
