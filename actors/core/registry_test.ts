import { assertEquals, assertThrows } from "../../tests/runtime/assert.ts";
import { ConfigError, UnknownActorClassError, UnknownMethodError } from "../../shared/errors.ts";
import {
  lookupActor,
  registerActor,
  registerLazyModule,
  registrationOf,
  resolveActor,
  resolveMethod,
} from "./registry.ts";

class Base {
  inherited(): string {
    return "base";
  }
}

class Widget extends Base {
  field = 1;
  spin(): string {
    return "spun";
  }
  _hidden(): string {
    return "no";
  }
}
registerActor(Widget, { methods: { spin: { idempotent: true } } });

Deno.test("registry - classes are found by name with their method specs", () => {
  assertEquals(lookupActor("Widget").cls, Widget);
  assertEquals(registrationOf(Widget)?.methods.spin?.idempotent, true);
});

Deno.test("registry - unknown classes name the registered ones", () => {
  assertThrows(() => lookupActor("Gadget"), UnknownActorClassError, "Widget");
});

Deno.test("registry - another class under a taken name is refused", () => {
  class Widget {}
  assertThrows(() => registerActor(Widget), ConfigError, "another class");
});

Deno.test("registry - only the class's own methods resolve; Object's, private and reserved names never", () => {
  const entry = lookupActor("Widget");
  const widget = new Widget();
  assertEquals(resolveMethod(entry, widget, "spin").call(widget), "spun");
  assertEquals(resolveMethod(entry, widget, "inherited").call(widget), "base");
  for (
    const name of ["constructor", "toString", "hasOwnProperty", "__proto__", "_hidden", "field", "restore", "nope"]
  ) {
    assertThrows(() => resolveMethod(entry, widget, name), UnknownMethodError, name);
  }
});

Deno.test("registry - lazy registry modules load only when a name is missing", async () => {
  let loads = 0;
  class LazyOne {}
  registerLazyModule(() => {
    loads++;
    registerActor(LazyOne);
    return Promise.resolve();
  });
  assertEquals((await resolveActor("Widget")).cls, Widget);
  assertEquals(loads, 0);
  assertEquals((await resolveActor("LazyOne")).cls, LazyOne);
  assertEquals(loads, 1);
  await resolveActor("LazyOne");
  assertEquals(loads, 1);
});
