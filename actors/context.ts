/** Moved to core/context.ts (the client API the role actors import); kept for importers outside actors/. */
export * from "./core/context.ts";
