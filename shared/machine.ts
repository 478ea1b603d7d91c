/**
 * The CPU a result was measured on. The model name alone can hide the generation ("AMD EPYC" on some VMs), and
 * float results differ between CPU generations (other kernels, other summation order), so the family, model and
 * stepping numbers from /proc/cpuinfo come with it.
 */
import { cpus } from "node:os";

/** E.g. "AMD EPYC (family 25, model 17, stepping 1)"; node:os's model name where /proc/cpuinfo is not readable. */
export function cpuModel(): string {
  let info = "";
  try {
    info = Deno.readTextFileSync("/proc/cpuinfo");
  } catch {
    // Not Linux, or /proc is not readable.
  }
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.+)$`, "m").exec(info)?.[1]?.trim();
  const name = field("model name") ?? cpus()[0]?.model ?? "unknown CPU";
  const ids = [["family", field("cpu family")], ["model", field("model")], ["stepping", field("stepping")]]
    .filter(([, value]) => value !== undefined).map(([key, value]) => `${key} ${value}`);
  return ids.length === 0 ? name : `${name} (${ids.join(", ")})`;
}
