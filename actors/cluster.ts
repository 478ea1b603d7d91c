/** Moved to core/cluster.ts (the client API the role actors import); kept for importers outside actors/. */
export * from "./core/cluster.ts";
