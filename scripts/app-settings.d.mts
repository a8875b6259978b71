export declare const OMITTED_IN_AZURE: Readonly<Record<string, string>>;
export declare const ADDED_IN_AZURE: Readonly<Record<string, string>>;
export declare function azureAppSettingNames(settings: readonly { name: string }[]): string[];
export declare function generatedSettingsJson(settings: readonly { name: string; default: string }[]): string;
