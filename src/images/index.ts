/**
 * images: the image store. One directory per image (rootfs.ext4 + manifest.json) under the
 * layout's imagesDir; builds the default Debian image with mmdebstrap, registers a user's ext4
 * file, pulls OCI images (blob cache shared by digest) and catalog bundles, exports bundles,
 * injects banger's guest programs, and reads files out of images without mounting them.
 * Must never mount anything, use loop devices, modify a user's file, or trust a manifest, a
 * layer or a bundle: nothing from a layer is written outside its tree or through a symlink;
 * must never decide whether an image is in use (the daemon does that before `remove`).
 */
export {
  ImageStore,
  BUILD_HINT,
  BUILD_RECIPES,
  DEFAULT_KERNEL,
  type BuildOptions,
  type BuildRecipe,
  type ImageListing,
  type ImageRecord,
  type ImageResult,
  type ImageStoreOptions,
  type RegisterOptions,
} from './image-store.js';
export {
  MANIFEST_FILE,
  ROOTFS_FILE,
  parseManifest,
  validateManifest,
  type DebianSource,
  type GuestProgramRecord,
  type ImageManifest,
  type ImageSource,
  type RegisterSource,
} from './manifest.js';
export { IMAGE_NAME_PATTERN, validateImageName } from './image-name.js';
export { DEBIAN_BOOKWORM_PACKAGES } from './debian-bookworm-packages.js';
export { lockFromPackages, type PackagePin } from './package-lock.js';
export {
  readFileFromExt4,
  statInExt4,
  listDirInExt4,
  extractDirFromExt4,
  type Ext4Stat,
  type Ext4DirEntry,
} from './ext4.js';
export { readExt4Superblock, type Ext4Superblock } from './ext4-superblock.js';
export type { StepTimings } from './step-timer.js';
export type { ExportResult } from './image-export.js';
export type { Userland, PackageManager } from './userland.js';
export { describeSsh } from './userland.js';
export type { OciPullOptions, CatalogPullOptions, CachePruneResult } from './image-store.js';
export type { OciSource, CatalogSource } from './manifest.js';
export type { Credentials } from './oci/credentials.js';
export {
  DEFAULT_LAYER_LIMITS,
  DEVICE_POLICIES,
  type DevicePolicy,
  type LayerLimits,
} from './oci/layer-policy.js';
export { parseImageReference, type ImageReference } from './oci/reference.js';
export type { BlobCache, PruneResult } from './oci/blob-cache.js';
export {
  fetchCatalog,
  parseCatalog,
  findEntry,
  requireEntry,
  type Catalog,
  type CatalogEntry,
} from './catalog/catalog-index.js';
export { fetchKernelBundle, writeKernelBundle } from './catalog/kernel-bundle.js';
export type { BundleManifest } from './catalog/bundle-manifest.js';
export type { WrittenBundle } from './catalog/bundle-writer.js';
