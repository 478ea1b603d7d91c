import { hfFixturesDir } from "../../engine/parity/fixture.ts";

/** Where the Hugging Face reference fixtures live (`COOP_HF_FIXTURES` overrides; default tests/fixtures/hf). */
export const HF_FIXTURES: string = hfFixturesDir();

/** A fixture folder by name (qwen2-tiny, llama-tiny, qwen2-rm-tiny). */
export function fixtureDir(name: string): string {
  return `${HF_FIXTURES}/${name}`;
}
