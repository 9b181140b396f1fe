# gpu_steps.sh - sourced by the device-call scripts (gpu_session.sh, gpu_suite.sh, gemm_gpu.sh):
# a step header with the time, a runner that reports a failed step and goes on, the device line.
step() { echo; echo "=== $* ($(date -u +%H:%M:%S))"; }
run() { # run <timeout-seconds> <command...>: runs it, reports a failure, never stops the script
  local t=$1; shift
  timeout "$t" "$@"
  local rc=$?
  [ $rc -ne 0 ] && echo "!!! step failed (rc=$rc): $*"
  return 0
}
device_info() {
  step "device"
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv || true
}
