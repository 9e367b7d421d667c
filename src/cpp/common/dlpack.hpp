// The DLPack tensor-exchange ABI (https://dmlc.github.io/dlpack/latest/c_api.html), unversioned form
// (capsule name "dltensor"), written out from the public specification. Only what kuzet produces is here.
#pragma once
#include <cstdint>

extern "C" {

enum KuzetDLDeviceType : int32_t {
  kKuzetDLCPU = 1,
  kKuzetDLCUDA = 2,
};

struct DLDevice {
  int32_t device_type;  // a KuzetDLDeviceType value
  int32_t device_id;
};

enum KuzetDLDataTypeCode : uint8_t {
  kKuzetDLInt = 0,
  kKuzetDLUInt = 1,
  kKuzetDLFloat = 2,
};

struct DLDataType {
  uint8_t code;  // a KuzetDLDataTypeCode value
  uint8_t bits;
  uint16_t lanes;
};

struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;  // in elements; may be null for C-contiguous
  uint64_t byte_offset;
};

struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};

}  // extern "C"
