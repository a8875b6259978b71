import pMap from "p-map";
import { assignmentDescription, assignmentName } from "../../domain/assignmentName.js";
import type { VmRecord } from "../../store/tableStore.js";
import { API_VERSIONS } from "../armUser.js";
import type { LocalStack } from "../stack.js";
import type { Fleet, FleetVm } from "./fleet.js";

/**
 * The owner polls the creation of each VM they set up by hand; ARM refills a principal's read budget
 * at 25 requests a second per subscription (429 beyond), so at most this many polls a second.
 */
const OWNER_POLLS_PER_SECOND = 20;

/** Built-in roles the demo's people hold (their real GUIDs). */
export const DEMO_ROLES = {
  virtualMachineContributor: "9980e02c-c2be-4d73-94e8-173b1dc7cf3c",
  reader: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
} as const;

/**
 * Creates a fleet the way its owners would. The platform team (the emulator's admin API) sets up the
 * landing zone: the resource groups, the owner's Virtual Machine Contributor on each of them (as a real
 * VM owner holds it: no role-assignment rights) plus Reader on the subscriptions (the status of a
 * long-running operation the owner waits for is read at the subscription scope), and the role
 * assignments that exist before the enforcer arrives. The owner then creates the VMs with ARM PUTs
 * using their own token. Most VMs are simply created (the PUT is accepted, the VM provisions for its minutes)
 * and their Event Grid events drive the enforcer at once, while they are still being created, as in
 * Azure. A VM its owner sets up by hand (own extension install, existing grants) is created, waited
 * for and set up while event delivery is held, so the enforcer first sees it as its owner left it.
 */
export async function createFleet(stack: LocalStack, fleet: Fleet, log: (line: string) => void, options: { resume?: boolean } = {}): Promise<void> {
  const owner = stack.userFor(fleet.owner.id);
  for (const group of fleet.resourceGroups) {
    stack.emulator.addResourceGroup(group.subscriptionId, group.name, group.location);
    await stack.grant(fleet.owner.id, DEMO_ROLES.virtualMachineContributor, `/subscriptions/${group.subscriptionId}/resourceGroups/${group.name}`);
  }
  for (const sub of new Set(fleet.resourceGroups.map((g) => g.subscriptionId))) await stack.grant(fleet.owner.id, DEMO_ROLES.reader, `/subscriptions/${sub}`);
  // The network (virtual networks, security groups, a NIC per VM) is the platform team's too.
  stack.emulator.addNetwork(fleet.network);
  if (options.resume) {
    // An interrupted run: leave the VMs that exist as they are (a PUT could collide with an operation
    // the enforcer has running on them), create the rest.
    const exists = await Promise.all(fleet.vms.map(async (vm) => (await owner.getVm(vm.id, false)) !== undefined));
    const missing = fleet.vms.filter((_, i) => !exists[i]);
    log(`  ${fleet.vms.length - missing.length} of the ${fleet.vms.length} VMs exist already; creating ${missing.length}.`);
    fleet = { ...fleet, vms: missing };
  }
  const simulate = (vm: FleetVm) => {
    if (vm.simulation) stack.emulator.setVmSimulation({ id: vm.id, ...vm.simulation } as Parameters<typeof stack.emulator.setVmSimulation>[0]);
  };
  const handMade = (vm: FleetVm) => (vm.extensions?.length ?? 0) > 0 || (vm.assignments?.length ?? 0) > 0;

  // Plain VMs: PUT, accepted, provisioning; the owner does not wait.
  await pMap(fleet.vms.filter((vm) => !handMade(vm)), async (vm) => {
    simulate(vm);
    const response = await owner.request("PUT", vm.id, API_VERSIONS.compute, vm.body);
    if (response.status >= 400) throw new Error(`PUT ${vm.id} → ${response.status}: ${JSON.stringify(response.body).slice(0, 300)}`);
   }, { concurrency: 8 });

  // Hand-made VMs: hold events (after the ones above are out) while each owner finishes, then let them drive the enforcement.
  const manual = fleet.vms.filter(handMade);
  if (manual.length === 0) return;
  await stack.emulator.deliveriesIdle();
  stack.emulator.setEventDelivery({ paused: true });
  try {
    const concurrency = Math.max(4, Math.floor((OWNER_POLLS_PER_SECOND * stack.userPollIntervalMs) / 1000));
    await pMap(manual, async (vm) => {
      simulate(vm);
      await owner.putVm(vm.id, vm.body);
      for (const ext of vm.extensions ?? []) {
        const { publisher, type, typeHandlerVersion, ...rest } = ext.body as Record<string, unknown>;
        try {
          await owner.putExtension(vm.id, ext.name, { publisher, type, typeHandlerVersion, ...rest }, String(vm.body["location"]));
        } catch (error) {
          log(`  (owner's own install of ${ext.name} on ${vm.id.split("/").pop()} failed, as it does in Azure: ${(error as Error).message.slice(0, 160)})`);
        }
      }
      // Existing grants are the tenant admin's (a VM Contributor cannot assign roles).
      for (const a of vm.assignments ?? []) {
        const ours = a.name === "__ours__";
        stack.emulator.addRoleAssignment({
          name: ours ? assignmentName(vm.id, a.roleGuid, a.principalId) : a.name,
          roleDefinitionId: a.roleGuid,
          principalId: a.principalId,
          scope: vm.id,
          // An earlier grant of the enforcer's carries its name and marker.
          description: ours ? assignmentDescription("aadlogin-admins") : (a.description ?? "granted by hand"),
        });
      }
    }, { concurrency });
  } finally {
    stack.emulator.setEventDelivery({ paused: false });
  }
}

/** A row in this state is still being worked on (a long-running operation in flight, a follow-up queued). */
export const IN_PROGRESS_STATE = "in-progress";

/**
 * Waits until every fleet VM has a record that is not `in-progress`, no event is left to deliver and
 * the queues are drained; reports progress (`done` = VMs with a settled record, the detail says how
 * many are still in progress). A VM still in progress at the deadline leaves `converged` false.
 */
export async function waitForConvergence(stack: LocalStack, fleet: Fleet, timeoutMs: number, show: (done: number, total: number, detail: string) => void = () => {}): Promise<{ records: Map<string, VmRecord>; converged: boolean }> {
  const deadline = Date.now() + timeoutMs;
  const ids = new Set(fleet.vms.map((v) => v.id.toLowerCase()));
  let records = new Map<string, VmRecord>();
  const read = async () => {
    const all = await stack.services.store.listVms();
    records = new Map(all.filter((r) => ids.has(r.vmId.toLowerCase())).map((r) => [r.vmId.toLowerCase(), r]));
    const inProgress = [...records.values()].filter((r) => (r.state as string) === IN_PROGRESS_STATE).length;
    return { inProgress, settled: records.size - inProgress };
  };
  while (Date.now() < deadline) {
    // Idle first, then read: a record written after the read would otherwise be missed.
    const idle = await Promise.race([stack.emulator.deliveriesIdle().then(() => true), sleep(250).then(() => false)]);
    const { inProgress, settled } = await read();
    const counts: Record<string, number> = {};
    for (const r of records.values()) if ((r.state as string) !== IN_PROGRESS_STATE) counts[r.state] = (counts[r.state] ?? 0) + 1;
    const waiting = ids.size - records.size;
    const detail = [
      ...(inProgress > 0 ? [`${inProgress} in progress`] : []),
      ...(waiting > 0 && records.size > 0 ? [`${waiting} not seen yet`] : []),
      Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(", "),
    ].filter(Boolean).join("; ");
    show(settled, ids.size, detail);
    if (idle && settled === ids.size) {
      // Requests still queued can change a row: let the ones due now run, then look again. Delayed
      // follow-ups of settled VMs (a deferred VM looked at again later) do not hold convergence.
      try {
        await stack.host?.drainQueues({ timeoutInMs: Math.max(1000, deadline - Date.now()), includeDelayed: false });
      } catch {
        break;
      }
      const after = await read();
      if (after.settled === ids.size) return { records, converged: true };
      continue;
    }
    if (idle) await sleep(250);
  }
  return { records, converged: false };
}


function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
