/** Parses the YAML subset OpenAPI files use; throws with a line number on anything else. */
export function parseYaml(text: string): unknown;
