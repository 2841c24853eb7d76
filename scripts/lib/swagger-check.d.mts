/** The tests' oracle: checks requests and responses against a parsed swagger 2.0 document. */
export interface SwaggerSpec {
  paths: Record<
    string,
    Record<
      string,
      { operationId: string; parameters?: unknown[]; responses: Record<string, unknown> }
    >
  >;
  definitions: Record<string, unknown>;
}
export function findOperation(
  spec: SwaggerSpec,
  method: string,
  urlPath: string,
):
  | {
      operationId: string;
      template: string;
      operation: unknown;
      pathParams: Record<string, string>;
    }
  | undefined;
export function pathExists(spec: SwaggerSpec, urlPath: string): boolean;
export function checkRequest(
  spec: SwaggerSpec,
  request: { method: string; path: string; body?: unknown; contentType?: string },
): string[];
export function checkResponse(
  spec: SwaggerSpec,
  operationId: string,
  status: number,
  body: unknown,
): string[];
export function checkSchema(
  spec: SwaggerSpec,
  schema: unknown,
  value: unknown,
  where: string,
  strict: boolean,
): string[];
export function operationById(spec: SwaggerSpec, operationId: string): unknown;
