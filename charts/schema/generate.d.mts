/** Types of generate.mjs, for the test that checks the generated schemas are up to date. */
export declare const SERVICE_CHARTS: readonly string[];
export declare function valuesSchema(chart: string): Record<string, unknown>;
export declare function schemaPath(chart: string): string;
