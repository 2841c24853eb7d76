export const SPEC_FILE: string;
export const OUT_DIR: string;
/** The generated files (name -> contents) for the spec text (default: the vendored spec). */
export function generate(specText?: string): Promise<Record<string, string>>;
