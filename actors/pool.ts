/** Moved to core/pool.ts (the client API the role actors import); kept for importers outside actors/. */
export * from "./core/pool.ts";
