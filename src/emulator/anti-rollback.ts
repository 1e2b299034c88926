/**
 * The anti-rollback rule (device-behaviour.md): an image whose security version
 * is below its component's fuse counter is refused, wherever the device meets
 * it (staging, install, secure boot, recovery). Fuses are counted per component
 * ID; a component never committed has counter 0.
 */
export function belowFuseCounter(componentId: string, securityVersion: number | undefined, fuses: Readonly<Record<string, number>>): string | undefined {
  const version = securityVersion ?? 0;
  const fuse = fuses[componentId] ?? 0;
  return version < fuse ? `security version ${version} is below the fuse counter ${fuse}` : undefined;
}
