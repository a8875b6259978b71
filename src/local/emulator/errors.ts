/**
 * ARM's error envelope. Compute's `CloudError` and the common `ErrorResponse` share this shape
 * (`{"error": {code, message, target?, details?}}`), so one type serves every provider.
 */
export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly target?: string,
    readonly details?: ReadonlyArray<Record<string, unknown>>,
  ) {
    super(message);
  }

  toBody(): { error: { code: string; message: string; target?: string; details?: ReadonlyArray<Record<string, unknown>> } } {
    return { error: { code: this.code, message: this.message, ...(this.target ? { target: this.target } : {}), ...(this.details ? { details: this.details } : {}) } };
  }
}

export const notFound = (code: string, message: string): ArmError => new ArmError(404, code, message);
export const badRequest = (code: string, message: string): ArmError => new ArmError(400, code, message);
export const conflict = (code: string, message: string): ArmError => new ArmError(409, code, message);

export function resourceNotFound(type: string, name: string, resourceGroup: string): ArmError {
  return notFound(
    "ResourceNotFound",
    `The Resource '${type}/${name}' under resource group '${resourceGroup}' was not found. ` +
      "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
  );
}
