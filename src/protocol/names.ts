/** Name rules shared by the CLI, the daemon and the helper. */
export const VM_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;
export const VM_NAME_RULE =
  'must match [a-z0-9][a-z0-9-]{0,63} (lowercase letters, digits and dashes)';
export const ARTIFACT_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const ARTIFACT_NAME_RULE = 'must match [a-z0-9][a-z0-9._-]{0,63}';
/** A VM reference: a name or an id prefix. */
export const VM_REF_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;
