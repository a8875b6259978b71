import { expect } from "vitest";
import { SUB_A, vmBody, vmId } from "./enforcerStack.js";
import { startHostedStack, type HostedStack } from "./hostedStack.js";

/**
 * Issue 13's story through the local Functions host: a Windows VM joins Entra ID, is deleted, and a
 * new VM takes its name. What the emulator's Graph holds at each step and what the enforcer's row says.
 * Used by deviceNameReuse.{report,enforce}.test.ts: the triggers build their services once per process,
 * so each DEVICE_CLEANUP mode needs its own test file (its own worker).
 */
export interface Story {
  readonly stack: HostedStack;
  readonly id: string;
  readonly name: string;
  /** Creates the VM (computer name = VM name) and lets the enforcer remediate it. */
  create(): Promise<void>;
  /** Deletes the VM as its owner; the enforcer's pass on the delete event runs. */
  remove(): Promise<void>;
  /** The directory's devices named like the VM. */
  devicesNamed(): ReturnType<HostedStack["emulator"]["devices"]>;
  row(): ReturnType<HostedStack["services"]["store"]["getVm"]>;
  close(): Promise<void>;
}

export async function startStory(cleanup: "report" | "enforce", name: string): Promise<Story> {
  const stack = await startHostedStack({ settings: { DEVICE_CONFIRMATION: "true", DEVICE_CLEANUP: cleanup, DEVICE_JOIN_WAIT_MS: "0" } });
  await stack.owner.putResourceGroup(SUB_A, "rg-reuse", "westeurope");
  await stack.settle();
  const id = vmId(SUB_A, "rg-reuse", name);
  return {
    stack,
    id,
    name,
    async create() {
      const body = vmBody({ sku: "2022-datacenter-azure-edition" });
      (body["properties"] as { osProfile: { computerName: string } }).osProfile.computerName = name;
      await stack.owner.putVm(id, body);
      await stack.settle();
    },
    async remove() {
      await stack.owner.write("DELETE", id, "2025-04-01");
      await stack.settle();
      expect((await stack.services.store.getVm(id))?.state).toBe("gone");
    },
    devicesNamed: () => stack.emulator.devices().filter((d) => d.displayName.toLowerCase() === name.toLowerCase()),
    row: () => stack.services.store.getVm(id),
    close: () => stack.close(),
  };
}
