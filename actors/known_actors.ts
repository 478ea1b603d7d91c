/**
 * The default actor registry module: every actor class that ships with Coop, registered by name. Actor hosts
 * always import it; agents add more modules with `--registry` (their own configuration, never a message).
 */
import "./demo_actors.ts";
import "./roles/mod.ts";
