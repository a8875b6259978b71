import { isObject, type Json } from "./http-io.js";

/** ARM PATCH semantics for nested models: objects merge key by key, arrays and scalars replace, null removes. */
export function mergePatch(target: Json, patch: Json): Json {
  const result: Json = { ...target };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete result[k];
    else if (isObject(v) && isObject(result[k])) result[k] = mergePatch(result[k] as Json, v);
    else result[k] = structuredClone(v);
  }
  return result;
}
