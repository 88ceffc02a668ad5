export * from "./admin.js";
export * from "./rotation.js";
export * from "./rotation-handler.js";
export * from "./secret-loader.js";
