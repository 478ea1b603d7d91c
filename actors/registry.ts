/** Moved to core/registry.ts (the client API the role actors import); kept for importers outside actors/. */
export * from "./core/registry.ts";
