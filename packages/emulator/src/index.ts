export type { BehaviourOptions, Faults, RateLimit } from "./options.js";
export { defaultBehaviour, noFaults } from "./options.js";
export type { FieldError, SchemaDocument } from "./schema.js";
export { parseSchema } from "./schema.js";
export type { Emulator, EmulatorConfig, EmulatorStats, RuntimeConfig, SeedData } from "./server.js";
export { startEmulator } from "./server.js";
