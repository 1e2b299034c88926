/**
 * The API version the emulated device implements, sent in a `REST-API-Version`
 * header on every response (device_rest_api.yaml, info.version). Clients read
 * it from GET /status and gate features on it.
 */
export const REST_API_VERSION = '4.5.0';
export const REST_API_VERSION_HEADER = 'REST-API-Version';
