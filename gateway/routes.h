/* Routing: the table of every HTTP route, its method, whether it needs a token, and its
 * handler. routes_prepare runs when the headers are in: it matches the route (404, 405),
 * authenticates (401) and checks the role the route needs (403); it returns 0 when the
 * request may go on, 1 when a reply was set. routes_run calls the handler once the body is
 * in; the handler sets a reply or suspends the request. */
#ifndef FNBOX_ROUTES_H
#define FNBOX_ROUTES_H

#include "gateway/http.h"

int routes_prepare(struct request *r);
void routes_run(struct request *r);

#endif
