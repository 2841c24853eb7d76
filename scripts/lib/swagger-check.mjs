// Checks HTTP requests and responses against a swagger 2.0 document (the subset Firecracker's
// API uses: body parameters, path parameters, $ref, object/array/string/integer/boolean/number,
// enum, required, minimum/maximum, additionalProperties). This is the tests' oracle: it reads
// the vendored spec itself and shares no code with the client it judges.
//
// Request bodies are checked strictly: a property the schema does not name is an error,
// because Firecracker's server refuses unknown fields (serde deny_unknown_fields).

/**
 * The operation that serves `method` on `urlPath`, with its path parameters.
 * @returns {{ operationId: string, template: string, operation: any, pathParams: Record<string,string> } | undefined}
 */
export function findOperation(spec, method, urlPath) {
  const lower = method.toLowerCase();
  for (const [template, item] of Object.entries(spec.paths)) {
    const params = matchTemplate(template, urlPath);
    if (params === undefined) continue;
    const operation = item[lower];
    if (operation === undefined) return undefined;
    return { operationId: operation.operationId, template, operation, pathParams: params };
  }
  return undefined;
}

/** The path templates that match `urlPath` whatever the method (to tell 404 from 405). */
export function pathExists(spec, urlPath) {
  return Object.keys(spec.paths).some((t) => matchTemplate(t, urlPath) !== undefined);
}

function matchTemplate(template, urlPath) {
  const t = template.split('/');
  const u = urlPath.split('/');
  if (t.length !== u.length) return undefined;
  const params = {};
  for (let k = 0; k < t.length; k++) {
    const m = /^\{([A-Za-z0-9_]+)\}$/.exec(t[k]);
    if (m) {
      if (u[k] === '') return undefined;
      params[m[1]] = decodeURIComponent(u[k]);
    } else if (t[k] !== u[k]) return undefined;
  }
  return params;
}

/**
 * Every way the request breaks the spec (empty when it conforms).
 * @param {{ method: string, path: string, body?: unknown, contentType?: string }} request
 * @returns {string[]}
 */
export function checkRequest(spec, request) {
  const found = findOperation(spec, request.method, request.path);
  if (found === undefined) {
    return [
      pathExists(spec, request.path)
        ? `${request.method} is not allowed on ${request.path}`
        : `no path of the spec matches ${request.path}`,
    ];
  }
  const errors = [];
  const params = found.operation.parameters ?? [];
  for (const p of params) {
    if (p.in === 'path') {
      const value = found.pathParams[p.name];
      if (value === undefined) errors.push(`path parameter ${p.name} is missing`);
      else errors.push(...checkSchema(spec, { type: p.type }, value, `path.${p.name}`, true));
    } else if (p.in !== 'body') {
      errors.push(`parameter ${p.name} in ${p.in} is not supported by this checker`);
    }
  }
  const bodyParam = params.find((p) => p.in === 'body');
  if (request.body === undefined) {
    if (bodyParam?.required === true) errors.push(`${found.operationId} requires a JSON body`);
  } else if (bodyParam === undefined) {
    errors.push(`${found.operationId} takes no body`);
  } else {
    if (request.contentType !== undefined && !/^application\/json\b/.test(request.contentType))
      errors.push(`content-type must be application/json (got ${request.contentType})`);
    errors.push(...checkSchema(spec, bodyParam.schema, request.body, 'body', true));
  }
  return errors;
}

/**
 * Every way a response breaks the spec. A status the operation does not list falls to
 * "default". A response described without a schema must have no body.
 */
export function checkResponse(spec, operationId, status, body) {
  const operation = operationById(spec, operationId);
  if (operation === undefined) return [`unknown operation ${operationId}`];
  const responses = operation.responses;
  const entry = responses[String(status)] ?? responses.default;
  if (entry === undefined) return [`${operationId} does not describe status ${status}`];
  if (entry.schema === undefined) {
    return body === undefined ? [] : [`${operationId} ${status} must have no body`];
  }
  if (body === undefined) return [`${operationId} ${status} must have a JSON body`];
  return checkSchema(spec, entry.schema, body, 'response', false);
}

export function operationById(spec, operationId) {
  for (const item of Object.values(spec.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (operation.operationId === operationId) return { ...operation, method };
    }
  }
  return undefined;
}

function resolve(spec, schema) {
  let s = schema;
  for (let depth = 0; s && s.$ref !== undefined; depth++) {
    if (depth > 32) throw new Error(`$ref loop at ${schema.$ref}`);
    const m = /^#\/definitions\/(.+)$/.exec(s.$ref);
    if (!m || spec.definitions[m[1]] === undefined) throw new Error(`unresolvable $ref ${s.$ref}`);
    s = spec.definitions[m[1]];
  }
  return s;
}

/** @returns {string[]} */
export function checkSchema(spec, schema, value, where, strict) {
  const s = resolve(spec, schema);
  const errors = [];
  const type = s.type ?? (s.properties || s.additionalProperties ? 'object' : undefined);
  switch (type) {
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        errors.push(`${where} must be an object`);
        break;
      }
      const props = s.properties ?? {};
      for (const name of s.required ?? []) {
        if (!(name in value)) errors.push(`${where}.${name} is required`);
      }
      for (const [name, v] of Object.entries(value)) {
        if (props[name] !== undefined) {
          errors.push(...checkSchema(spec, props[name], v, `${where}.${name}`, strict));
        } else if (typeof s.additionalProperties === 'object') {
          errors.push(...checkSchema(spec, s.additionalProperties, v, `${where}.${name}`, strict));
        } else if (
          s.additionalProperties === false ||
          (strict && s.additionalProperties !== true)
        ) {
          errors.push(`${where}.${name} is not a property of the schema`);
        }
      }
      break;
    }
    case 'array':
      if (!Array.isArray(value)) errors.push(`${where} must be an array`);
      else
        value.forEach((v, k) =>
          errors.push(...checkSchema(spec, s.items ?? {}, v, `${where}[${k}]`, strict)),
        );
      break;
    case 'string':
      if (typeof value !== 'string') errors.push(`${where} must be a string`);
      break;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value))
        errors.push(`${where} must be an integer`);
      else if (s.format === 'int32' && (value < -(2 ** 31) || value >= 2 ** 31))
        errors.push(`${where} must fit in int32`);
      break;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value))
        errors.push(`${where} must be a number`);
      break;
    case 'boolean':
      if (typeof value !== 'boolean') errors.push(`${where} must be a boolean`);
      break;
    case undefined:
      break;
    default:
      errors.push(`${where}: schema type ${type} is not supported by this checker`);
  }
  if (errors.length > 0) return errors;
  if (s.enum !== undefined && !s.enum.includes(value))
    errors.push(
      `${where} must be one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')} (got ${JSON.stringify(value)})`,
    );
  if (typeof value === 'number') {
    if (s.minimum !== undefined && value < s.minimum)
      errors.push(`${where} must be >= ${s.minimum}`);
    if (s.maximum !== undefined && value > s.maximum)
      errors.push(`${where} must be <= ${s.maximum}`);
  }
  return errors;
}
