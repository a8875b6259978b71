/**
 * Binding properties may name app settings as `%NAME%` (anywhere in the string), which the host
 * replaces at startup; an unresolvable reference stops the function from loading, as in Azure.
 */
export type AppSettings = Readonly<Record<string, string | undefined>>;

export function resolveAppSettingReferences(value: string, settings: AppSettings, where: string): string {
  return value.replace(/%([^%\s]+)%/g, (_match, name: string) => {
    const resolved = settings[name];
    if (resolved === undefined || resolved === "") {
      throw new Error(`${where} refers to app setting "%${name}%", which is not set. Set ${name} in the host's settings or the environment.`);
    }
    return resolved;
  });
}
