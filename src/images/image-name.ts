import { badRequest } from '../base/index.js';

/** Image and kernel names: lowercase, start with a letter or digit, at most 64 characters. */
export const IMAGE_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Returns `name` when it is a valid image name; otherwise throws `bad_request` naming the rule. */
export function validateImageName(name: unknown, what = 'image name'): string {
  if (typeof name !== 'string' || !IMAGE_NAME_PATTERN.test(name)) {
    throw badRequest(
      `invalid ${what} ${JSON.stringify(name)}: it must match ${String(IMAGE_NAME_PATTERN)} ` +
        '(lowercase letters, digits, ".", "_", "-"; at most 64 characters; no leading punctuation)',
    );
  }
  return name;
}

/** Kernel names follow the same rule; the image store only records them (the kernel store owns them). */
export function validateKernelName(name: unknown): string {
  return validateImageName(name, 'kernel name');
}
