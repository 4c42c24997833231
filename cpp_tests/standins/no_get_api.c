/* A stand-in for libopenvino_telemetry without ov_telemetry_get_api: some other library
 * installed under the expected name, or a build from before the function table. */
int ovt_standin_without_get_api(void);
int ovt_standin_without_get_api(void) { return 42; }
