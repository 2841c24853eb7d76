/**
 * What the default image `debian-bookworm` installs on top of mmdebstrap's minbase variant
 * (Essential packages + apt). Pinned here so a change to the image is a reviewed diff.
 * Keep it lean: every package costs build time and image size for every sandbox.
 */
export const DEBIAN_BOOKWORM_PACKAGES: readonly string[] = [
  // Interactive use and `ssh <vm>.vm`; sftp-server because OpenSSH 9's scp speaks SFTP.
  'openssh-server',
  'openssh-sftp-server',
  // What a developer sandbox is expected to have.
  'git',
  'curl',
  'ca-certificates',
  'make',
  'less',
  'vim-tiny',
  // Process and network inspection (ps/top, ip/ss, ping) and the services/protocols databases.
  'procps',
  'iproute2',
  'iputils-ping',
  'netbase',
  // Workspace shipping over the agent streams tarballs (Essential already; listed because we rely on it).
  'tar',
  'gzip',
  'xz-utils',
  // A listener/client for checking port forwarding from inside the guest.
  'netcat-openbsd',
];

/** Suite and the archive areas the image's apt sources point at (so `apt-get upgrade` gets fixes). */
export const DEBIAN_BOOKWORM = {
  suite: 'bookworm',
  mirror: 'http://deb.debian.org/debian',
  securityMirror: 'http://deb.debian.org/debian-security',
} as const;

/**
 * dpkg path filters that keep documentation out of the image (as Debian's slim container
 * images do); copyright files stay, as the licences require.
 */
export const DPKG_PATH_FILTERS: readonly string[] = [
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/locale/*',
  'path-exclude=/usr/share/lintian/*',
];
