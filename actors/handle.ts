/** Moved to core/handle.ts (the client API the role actors import); kept for importers outside actors/. */
export * from "./core/handle.ts";
