/**
 * docker-py `containers.run()` arguments this tool does not offer, each with why and what to use
 * instead. A caller who passes one gets that reason, never "is not a parameter".
 */
export const REFUSED_ARGUMENTS: Readonly<Record<string, string>> = {
  name: 'highway-docker names every container "highway-<intent id>" (that is how it finds the container again after a crash, and how a retried activity never starts a second one); tag it with labels instead',
  tty: 'output is captured as separate stdout and stderr streams, which a TTY would merge into one; run without a TTY',
  stdin_open: 'nothing is attached to the standard input of a run; pass input through files, environment or command',
  stream: 'the result carries the whole output once the run ends; to follow it live, run with detach: true and use tools.docker.logs with follow (CLI: logs --follow)',
  lxc_conf: 'LXC configuration is not part of any current Docker engine (the LXC driver was removed in Docker 1.10)',
  isolation: 'isolation technologies (process, hyperv) exist only on Windows engines; Linux containers are isolated by namespaces and cgroups',
  cpu_count: 'a Windows-only setting; use cpu_limit (CPUs, e.g. 0.5) or nano_cpus',
  cpu_percent: 'a Windows-only setting; use cpu_limit (CPUs, e.g. 0.5) or nano_cpus',
  kernel_memory: 'kernel memory limits are deprecated by Docker (removed in API 1.42) and ignored by cgroup v2 kernels; use memory_limit',
  init_path: 'the init binary is the daemon\'s own (dockerd --init-path); the Engine API has no per-container init path. Use init: true',
  links: 'legacy links need the default bridge network, which highway-docker does not use; put containers on a user-defined network (network) where they find each other by name',
  networking_config: 'per-endpoint settings (aliases, static addresses) are not offered; use network to join a user-defined network',
  platform: 'images are pulled and run for the Docker host\'s own platform; use an image (or a digest) built for it, or placement to pick a host of that platform',
  use_config_proxy: 'a docker-py client-side option (it copies proxies from ~/.docker/config.json); set HTTP_PROXY, HTTPS_PROXY and NO_PROXY in environment instead',
  version: 'docker-py\'s client API version; highway-docker speaks the Engine API itself (1.41), so there is nothing to choose',
};

/** docker-py argument names that name an original parameter's setting: alias -> original. */
export const ALIASES: Readonly<Record<string, string>> = {
  mem_limit: 'memory_limit',
  nano_cpus: 'cpu_limit',
  remove: 'auto_remove',
};
