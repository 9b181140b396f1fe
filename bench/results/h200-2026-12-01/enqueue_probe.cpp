// Probe: NVIDIA OpenCL host cost of clEnqueueNDRangeKernel vs the kernel's arguments.
#define CL_TARGET_OPENCL_VERSION 300
#include <CL/cl.h>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>
static double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
#define CK(x) do { cl_int e_ = (x); if (e_) { printf("error %d at %s line %d\n", e_, #x, __LINE__); return 1; } } while (0)
struct P { cl_long v[32]; };
int main() {
  cl_uint np = 0; clGetPlatformIDs(0, nullptr, &np);
  std::vector<cl_platform_id> ps(np); clGetPlatformIDs(np, ps.data(), nullptr);
  cl_platform_id plat = nullptr; cl_device_id dev = nullptr;
  for (auto p : ps) { char n[256]; clGetPlatformInfo(p, CL_PLATFORM_NAME, 256, n, nullptr); if (strstr(n, "NVIDIA")) plat = p; }
  if (!plat) { printf("no NVIDIA\n"); return 1; }
  CK(clGetDeviceIDs(plat, CL_DEVICE_TYPE_ALL, 1, &dev, nullptr));
  cl_int err; cl_context ctx = clCreateContext(nullptr, 1, &dev, nullptr, nullptr, &err); CK(err);
  cl_command_queue q = clCreateCommandQueue(ctx, dev, 0, &err); CK(err);
  // kernels: nb buffers, ns long scalars (or one struct of ns longs)
  struct V { const char* name; int nb, ns; bool strct; int distinct = 0; };
  V vs[] = {{"b2s2", 2, 2, false}, {"b2s30", 2, 30, false}, {"b10s2", 10, 2, false}, {"b10s30", 10, 30, false},
            {"b2struct30", 2, 30, true}, {"b10struct30", 10, 30, true}, {"b16s2", 16, 2, false}, {"b16same", 16, 2, false, 1}, {"b16of2", 16, 2, false, 2},
            {"b9s2", 9, 2, false}, {"b9of5", 9, 2, false, 5}, {"b5s2", 5, 2, false}, {"b5struct30", 5, 30, true}, {"b9struct30", 9, 30, true}};
  std::vector<cl_mem> bufs;
  for (int i = 0; i < 64; ++i) { bufs.push_back(clCreateBuffer(ctx, CL_MEM_READ_WRITE, 1 << 16, nullptr, &err)); CK(err); }
  for (V& v : vs) {
    std::string src = v.strct ? "typedef struct { long v[32]; } P;\n" : "";
    src += "__kernel void k(";
    for (int i = 0; i < v.nb; ++i) src += (i ? ", " : "") + std::string("__global float* b") + std::to_string(i);
    if (v.strct) src += ", P p"; else for (int i = 0; i < v.ns; ++i) src += ", long s" + std::to_string(i);
    src += ") { if (get_global_id(0) == 0) { float acc = 0;";
    for (int i = 1; i < v.nb; ++i) src += " acc += b" + std::to_string(i) + "[0];";
    if (v.strct) src += " acc += (float)p.v[0];"; else for (int i = 0; i < v.ns; ++i) src += " acc += (float)s" + std::to_string(i) + ";";
    src += " b0[0] = acc; } }";
    const char* s = src.c_str();
    cl_program prog = clCreateProgramWithSource(ctx, 1, &s, nullptr, &err); CK(err);
    CK(clBuildProgram(prog, 1, &dev, "", nullptr, nullptr));
    cl_kernel k = clCreateKernel(prog, "k", &err); CK(err);
    P p{}; cl_long sc = 1;
    auto setall = [&](int layer) {
      for (int i = 0; i < v.nb; ++i) clSetKernelArg(k, i, sizeof(cl_mem), &bufs[(layer * 3 + (v.distinct ? i % v.distinct : i)) % 64]);
      if (v.strct) clSetKernelArg(k, v.nb, sizeof p, &p); else for (int i = 0; i < v.ns; ++i) clSetKernelArg(k, v.nb + i, sizeof sc, &sc);
    };
    setall(0);
    size_t g = 128, l = 128;
    for (int i = 0; i < 500; ++i) clEnqueueNDRangeKernel(q, k, 1, nullptr, &g, &l, 0, nullptr, nullptr);
    clFinish(q);
    const int N = 3000;
    for (int rep = 0; rep < 2; ++rep) {
      double t0 = now();
      for (int i = 0; i < N; ++i) CK(clEnqueueNDRangeKernel(q, k, 1, nullptr, &g, &l, 0, nullptr, nullptr));
      double t1 = now(); clFinish(q); double t2 = now();
      double t3 = now();
      for (int i = 0; i < N; ++i) { setall(i); CK(clEnqueueNDRangeKernel(q, k, 1, nullptr, &g, &l, 0, nullptr, nullptr)); }
      double t4 = now(); clFinish(q); double t5 = now();
      double t6 = now();
      for (int i = 0; i < N; ++i) setall(i);
      double t7 = now();
      printf("%-12s enqueue only %.2f us (done %.2f) | set all + enqueue %.2f us (done %.2f) | set all alone %.2f us\n", v.name,
             1e6 * (t1 - t0) / N, 1e6 * (t2 - t0) / N, 1e6 * (t4 - t3) / N, 1e6 * (t5 - t3) / N, 1e6 * (t7 - t6) / N);
    }
  }
  return 0;
}
