/**
 * Checks JSON values against the Firecracker API schema (generated/api-schema.ts). The client
 * checks what it sends strictly (no property the spec does not name: Firecracker refuses
 * unknown fields) and what it receives leniently (a newer Firecracker may add fields, but a
 * missing required field or a wrong type is an unknown shape and is refused). Pure.
 */
import { FIRECRACKER_DEFINITIONS, type SchemaNode } from './generated/api-schema.js';

export type CheckMode = 'request' | 'response';

export function resolveSchema(schema: SchemaNode): SchemaNode {
  let node = schema;
  for (let depth = 0; node.$ref !== undefined; depth++) {
    const name = /^#\/definitions\/(.+)$/.exec(node.$ref)?.[1];
    const target = name === undefined ? undefined : FIRECRACKER_DEFINITIONS[name];
    if (target === undefined || depth > 32)
      throw new Error(`unresolvable schema reference ${node.$ref}`);
    node = target;
  }
  return node;
}

/** The name a schema refers to ("Drive"), for messages. */
export function schemaName(schema: SchemaNode): string {
  return /^#\/definitions\/(.+)$/.exec(schema.$ref ?? '')?.[1] ?? schema.type ?? 'value';
}

/** Every way `value` breaks `schema`, each naming the field (empty when it conforms). */
export function schemaErrors(
  schema: SchemaNode,
  value: unknown,
  where: string,
  mode: CheckMode,
): string[] {
  const s = resolveSchema(schema);
  const errors: string[] = [];
  const type = s.type ?? (s.properties !== undefined ? 'object' : undefined);
  switch (type) {
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        errors.push(`${where} must be an object`);
        break;
      }
      const record = value as Record<string, unknown>;
      const props = s.properties ?? {};
      for (const name of s.required ?? []) {
        if (record[name] === undefined) errors.push(`${where}.${name} is required`);
      }
      for (const [name, v] of Object.entries(record)) {
        if (v === undefined) continue;
        const prop = props[name];
        if (prop !== undefined) errors.push(...schemaErrors(prop, v, `${where}.${name}`, mode));
        else if (typeof s.additionalProperties === 'object')
          errors.push(...schemaErrors(s.additionalProperties, v, `${where}.${name}`, mode));
        else if (
          s.additionalProperties === false ||
          (mode === 'request' && s.additionalProperties !== true)
        )
          errors.push(`${where}.${name} is not a field of ${schemaName(schema)}`);
      }
      break;
    }
    case 'array':
      if (!Array.isArray(value)) errors.push(`${where} must be an array`);
      else
        value.forEach((v: unknown, i) =>
          errors.push(...schemaErrors(s.items ?? {}, v, `${where}[${String(i)}]`, mode)),
        );
      break;
    case 'string':
      if (typeof value !== 'string') errors.push(`${where} must be a string`);
      break;
    case 'integer':
      if (typeof value !== 'number' || !Number.isSafeInteger(value))
        errors.push(`${where} must be an integer`);
      else if (s.format === 'int32' && (value < -(2 ** 31) || value >= 2 ** 31))
        errors.push(`${where} must fit in 32 bits`);
      break;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value))
        errors.push(`${where} must be a number`);
      break;
    case 'boolean':
      if (typeof value !== 'boolean') errors.push(`${where} must be true or false`);
      break;
    case undefined:
      break;
  }
  if (errors.length > 0) return errors;
  if (s.enum !== undefined && !s.enum.includes(value as string | number | boolean)) {
    errors.push(
      `${where} must be one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')} (got ${JSON.stringify(value)})`,
    );
  }
  if (typeof value === 'number') {
    if (s.minimum !== undefined && value < s.minimum)
      errors.push(`${where} must be at least ${String(s.minimum)}`);
    if (s.maximum !== undefined && value > s.maximum)
      errors.push(`${where} must be at most ${String(s.maximum)}`);
  }
  return errors;
}
