export * from "./secret-loader.js";
export * from "./admin.js";
export * from "./rotation.js";
