/** Parity with reference (Hugging Face) outputs for folders in the fixture format. */
export {
  checkParity,
  formatParity,
  type ParityOptions,
  type ParityReport,
  type ParityRow,
  relativeError,
  TOLERANCES,
} from "./check.ts";
export { type Fixture, FixtureError, hfFixturesDir, readFixture } from "./fixture.ts";
export { parityMain } from "./cli.ts";
