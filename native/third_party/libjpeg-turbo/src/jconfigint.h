/* jconfigint.h for resnet-cifar's vendored decoder (hand-written from jconfigint.h.in). */
#define BUILD  "resnet-cifar"
#if defined(__GNUC__) && !defined(_WIN32)
#define HIDDEN  __attribute__((visibility("hidden")))
#else
#define HIDDEN
#endif
#undef inline
#if defined(_MSC_VER)
#define INLINE  __forceinline
#define THREAD_LOCAL  __declspec(thread)
#else
#define INLINE  __inline__ __attribute__((always_inline))
#define THREAD_LOCAL  __thread
#endif
#define PACKAGE_NAME  "libjpeg-turbo"
#define VERSION  "3.1.4"
#if defined(_WIN64) || defined(__x86_64__) || defined(__aarch64__) || defined(_M_X64) || defined(_M_ARM64) || (defined(__SIZEOF_SIZE_T__) && __SIZEOF_SIZE_T__ == 8)
#define SIZEOF_SIZE_T  8
#else
#define SIZEOF_SIZE_T  4
#endif
#if defined(__GNUC__) && !defined(_WIN32)
#define HAVE_BUILTIN_CTZL
#endif
#if defined(_MSC_VER)
#define HAVE_INTRIN_H
#if (SIZEOF_SIZE_T == 8)
#define HAVE_BITSCANFORWARD64
#elif (SIZEOF_SIZE_T == 4)
#define HAVE_BITSCANFORWARD
#endif
#endif
#if defined(__has_attribute)
#if __has_attribute(fallthrough)
#define FALLTHROUGH  __attribute__((fallthrough));
#else
#define FALLTHROUGH
#endif
#else
#define FALLTHROUGH
#endif
#ifndef BITS_IN_JSAMPLE
#define BITS_IN_JSAMPLE  8
#endif
#undef C_ARITH_CODING_SUPPORTED
#undef D_ARITH_CODING_SUPPORTED
#undef WITH_SIMD
