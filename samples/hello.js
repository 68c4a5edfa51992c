// hello: the smallest useful fnbox function.
//
// Input:  {"name": "Ada"}   (any other value, or no body at all, greets "world")
// Output: {"greeting": "Hello, Ada!", "function": "hello", "version": 1}
// Logs:   one line, returned in the invoke response's "logs" array.
//
// Engine: Duktape 2.7 (ES5.1 syntax): var, function expressions, no arrow functions.

function main(input, ctx) {
  var name = 'world';
  if (input !== null && typeof input === 'object' && typeof input.name === 'string' &&
      input.name.length > 0) {
    name = input.name;
  }
  console.log('greeting', name, 'in invocation', ctx.invocation_id);
  return {
    greeting: 'Hello, ' + name + '!',
    function: ctx.function,
    version: ctx.version
  };
}
