/**
 * The default actor registry module: every actor class that ships with Coop, registered by name. Actor hosts
 * always import it; agents add more modules with `--registry` (their own configuration, never a message).
 * The role actors load lazily: a host imports them only when it is asked for a class not registered otherwise.
 */
import "./demo_actors.ts";
import { registerLazyModule } from "./core/mod.ts";

registerLazyModule(() => import("./roles/mod.ts"));
