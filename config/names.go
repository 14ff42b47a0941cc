package config

// IsReservedMeasurement reports whether IoTDB reserves s as a measurement
// name in the tree model (time, timestamp, root, in any case): such a name
// must be backquoted. A mapping generator uses it to write names that load.
func IsReservedMeasurement(s string) bool { return isReservedMeasurement(s) }
