/** The pure decision core: no `@azure/*`, no I/O, no clock reads (time is passed in). */
export * from "./access.js";
export * from "./action.js";
export * from "./assignmentName.js";
export * from "./diagnosis.js";
export * from "./eligibility.js";
export * from "./extensionType.js";
export * from "./osInfo.js";
export * from "./osPolicy.js";
export * from "./outcome.js";
export * from "./plan.js";
export * from "./progress.js";
export * from "./resourceId.js";
export * from "./roles.js";
export * from "./tags.js";
export * from "./text.js";
export * from "./vm.js";
