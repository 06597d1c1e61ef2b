// JS objects around shared native state (sharp's pattern: the state is plain C++, shared with worker threads).
// Objects made from C++ (Model.load, Dataset.loadBatches, …) are constructed through their JS class, which adopts
// the state handed over here. The constructor runs synchronously inside New(), on this thread, so the hand-over
// is a thread-local pointer: no External is created, hence nothing that only a garbage collection would free.
#pragma once

#include <napi.h>

#include <memory>

namespace resnet_cifar {

template <class State>
inline thread_local std::shared_ptr<State>* adopting_state = nullptr;

template <class State>
Napi::Object NewWrapped(const Napi::FunctionReference& ctor, std::shared_ptr<State> state) {
  adopting_state<State> = &state;
  try {
    Napi::Object o = ctor.New({});
    adopting_state<State> = nullptr;
    return o;
  } catch (...) {
    adopting_state<State> = nullptr;
    throw;
  }
}

// In a constructor: the state NewWrapped is handing over, or null for a construction from JS.
template <class State>
std::shared_ptr<State> AdoptedState() {
  std::shared_ptr<State>* p = adopting_state<State>;
  adopting_state<State> = nullptr;
  return p ? *p : nullptr;
}

// The state behind a JS object of class `ctor`, or a TypeError naming `what`.
template <class Wrap, class State>
std::shared_ptr<State> StateOf(const Napi::Value& v, const Napi::FunctionReference& ctor, const char* what) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(ctor.Value())) {
    throw Napi::TypeError::New(v.Env(), std::string("Expected a native ") + what);
  }
  return Napi::ObjectWrap<Wrap>::Unwrap(v.As<Napi::Object>())->state();
}

}  // namespace resnet_cifar
