export * from "./secret-loader.js";
